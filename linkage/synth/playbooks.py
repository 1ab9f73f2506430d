"""Shared prompt texts of the adversary operations and the benign traps.

An operation's harness sends a *template set*: a few variants of one prompt,
each a list of clauses with ``{slot}`` fields. Rings of one operation favour
different variants, and the paraphrase stage (``paraphrase.py``) rewords each
request, so the operation's text is one family of near-duplicates rather than
one fixed string. The sets aim where distillation aims: coding, agentic tool
use, step-by-step reasoning and generated training data.

The traps' texts are honest shared text: a hackathon's starter prompt, an
evaluation vendor's benchmark harness, a lab's research prompts, and a public
prompt library whose coding entries read much like an operator's.
"""

from __future__ import annotations

import numpy as np

#: operation template sets: each a list of variants, each variant a list of clauses
OPERATION_SETS: list[list[list[str]]] = [
    [  # 0: interview tutor (coding, reasoning first)
        ["I am preparing for a senior {lang} engineering interview.", "Show me how you would {task}.",
         "Before writing any code, explain the trade-offs between the possible approaches.",
         "Then give the complete solution in a single code block.",
         "Finish with the unit tests you would write and the time complexity of each function."],
        ["I am getting ready for a senior {lang} engineering interview.", "Show me how you would {task}.",
         "Explain the trade-offs between the possible approaches before you write any code.",
         "Then provide the complete solution in one code block.",
         "End with the unit tests you would add and the time complexity of every function."],
        ["I have a senior {lang} engineering interview next week.", "Demonstrate how you would {task}.",
         "First compare the possible approaches and explain the trade-offs.",
         "Then write the complete solution in a single code block.",
         "Close with unit tests and the time complexity of each function."],
        ["I am practising for a senior {lang} engineering interview.", "How would you {task}?",
         "Talk through the possible approaches and their trade-offs first.",
         "Then show the complete solution in a single code block.",
         "Finish with unit tests and the time complexity of each function."],
    ],
    [  # 1: agent traces (tool use)
        ["You are working inside a {lang} repository with a terminal and a code editor.",
         "Your goal is to {agent_goal}.", "Before every action, state what you expect to happen and why.",
         "After every action, show the output you observed and decide what to do next.",
         "When the goal is reached, summarise all changes as a unified diff."],
        ["You are operating in a {lang} repository with access to a shell and an editor.",
         "The goal is to {agent_goal}.", "Before each action, say what you expect to happen and why.",
         "After each action, print the output you observed and choose the next step.",
         "When you are finished, summarise every change as a unified diff."],
        ["You control a terminal and a code editor in a {lang} repository.", "Your task is to {agent_goal}.",
         "For every action, first state the expected result and your reason.",
         "Then show the real output and decide the next action.", "At the end, list all changes as a unified diff."],
    ],
    [  # 2: reasoning traces (maths and logic)
        ["Solve the following problem carefully.", "Problem: {problem}.",
         "Reason through it one step at a time and check each step before moving on.",
         "State every assumption you make explicitly.",
         "Write the final answer on the last line after the word RESULT."],
        ["Work through the following problem carefully.", "Problem: {problem}.",
         "Think one step at a time and verify each step before you continue.", "Make every assumption explicit.",
         "Put the final answer on the last line after the word RESULT."],
        ["Here is a problem I need solved rigorously.", "{problem}.",
         "Go one step at a time and double-check each step before moving on.",
         "Say clearly which assumptions you rely on.",
         "Give the final answer alone on the last line, prefixed with RESULT."],
    ],
    [  # 3: code review and rewrite
        ["Here is a {lang} function from our production codebase: {code}",
         "Review it the way a careful senior engineer would.",
         "List every bug, performance problem and security issue you can find.",
         "Then rewrite the function so that all of them are fixed.", "Explain each change in one short sentence."],
        ["Below is a {lang} function taken from our production code: {code}",
         "Review it as a careful senior engineer would.",
         "List each bug, performance problem and security issue you notice.",
         "Then rewrite the function with all of them fixed.", "Explain every change in one short sentence."],
        ["This {lang} function is from our production codebase: {code}",
         "Do a careful senior-level code review.",
         "Find every bug, performance problem and security issue.",
         "Then rewrite the function so that none of them remain.", "Justify each change in one short sentence."],
    ],
    [  # 4: exercise factory (training data)
        ["Create {n} new programming exercises about {topic} for intermediate {lang} developers.",
         "For each exercise, write the problem statement, a worked solution and three test cases.",
         "Make sure the exercises vary in difficulty and style.",
         "Format the output as a numbered list with clear headings."],
        ["Write {n} original programming exercises on {topic} for intermediate {lang} developers.",
         "Each exercise needs a problem statement, a worked solution and three test cases.",
         "Vary the difficulty and the style of the exercises.", "Format everything as a numbered list with headings."],
        ["Generate {n} fresh {lang} exercises about {topic} aimed at intermediate developers.",
         "Give each one a problem statement, a worked solution and three test cases.",
         "Make the exercises differ in difficulty and style.", "Use a numbered list with clear headings."],
    ],
    [  # 5: operations planner (agentic planning)
        ["Act as a staff engineer planning a piece of infrastructure work.", "The objective is to {objective} on {env}.",
         "Break the work into small steps and explain why each step is needed.",
         "For every step, write the exact commands or code you would run.",
         "Point out the risks and describe how you would roll back."],
        ["Act as a staff engineer who is planning infrastructure work.", "Your objective is to {objective} on {env}.",
         "Split the work into small steps and explain why each one is needed.",
         "For each step, give the exact commands or code you would run.",
         "Call out the risks and explain how you would roll back."],
        ["You are a staff engineer planning an infrastructure change.", "We need to {objective} on {env}.",
         "Break it into small steps and justify each step.",
         "Write the exact commands or code for every step.", "List the risks and the rollback plan."],
    ],
    [  # 6: debugging sessions
        ["My {lang} service crashes with {error} in production.", "Here is the relevant code: {code}",
         "Find the root cause and explain how the failure happens step by step.",
         "Suggest a fix and show the corrected code.", "Also suggest a test that would have caught this bug."],
        ["Our {lang} service fails with {error} in production.", "This is the relevant code: {code}",
         "Identify the root cause and explain step by step how the failure happens.",
         "Propose a fix and show the corrected code.", "Also propose a test that would have caught the bug."],
        ["In production my {lang} service throws {error}.", "The relevant code: {code}",
         "Work out the root cause and walk through the failure step by step.",
         "Then fix it and show the corrected code.", "Add a test that would have caught this bug."],
    ],
    [  # 7: port and translate
        ["Translate the following {lang} code into idiomatic {lang2}: {code}", "Keep the behaviour exactly the same.",
         "Explain the differences between the two languages that affected your translation.",
         "Add comments wherever the translation is not obvious."],
        ["Port this {lang} code to idiomatic {lang2}: {code}", "The behaviour must stay exactly the same.",
         "Explain which differences between the two languages shaped your translation.",
         "Comment every place where the translation is not obvious."],
        ["Rewrite the following {lang} code in idiomatic {lang2}: {code}", "Do not change the behaviour at all.",
         "Describe the language differences that affected the translation.",
         "Add comments where the translation is not obvious."],
    ],
]

#: a hackathon organiser's starter prompt (``{event}`` is filled per hackathon); participants append their idea
HACKATHON_STARTER = [
    ["[{event} starter] You are a pair programmer helping a hackathon team build a prototype with the model API "
     "in {lang}.", "Propose a simple architecture first, then write the first working version of the code.",
     "Our idea: {tail}"],
    ["[{event} starter] You are a pair programmer helping a hackathon team build a prototype with the model API "
     "in {lang}.", "Our idea: {tail}", "Where do we start?"],
]

#: an evaluation vendor's benchmark harness: one fixed frame per suite, the task varies
EVAL_BENCHMARK = [
    ["### Task {jobid}", "You are given a {lang} repository and an issue report.", "Issue: {agent_goal}.",
     "Produce a patch that resolves the issue.", "Respond with a unified diff only."],
    ["### Task {jobid}", "Complete the following {lang} function so that it passes the hidden tests: {code}",
     "Respond with code only."],
    ["### Task {jobid}", "You are an agent with the tools bash, python and browser.", "Objective: {objective}.",
     "Environment: {env}.", "Think step by step, call tools as needed, and stop when the objective is met."],
    ["### Task {jobid}", "Question: {problem}", "Answer with the final number only."],
]

#: a research lab's shared prompts (``{lab}`` filled per lab)
LAB_PROMPTS = [
    ["[{lab} group] We are training a {model} on {dataset}.", "Here is the training script: {code}",
     "The validation loss diverges after a few epochs; what should we change?"],
    ["[{lab} group] Help me write the related-work paragraph for our paper on {topic}.", "Key points: {tail}"],
    ["[{lab} group] Convert this analysis script to run on the cluster as SLURM array jobs: {code}"],
    ["[{lab} group] Explain why this experiment result could be wrong and list the checks we should run: {tail}"],
]

#: a public prompt library's most copied entries (popularity falls with the index)
PUBLIC_LIBRARY = [
    ["You are an expert {lang} programmer.", "Solve the following task step by step.",
     "First think about the edge cases, then write a complete implementation in one code block, followed by unit "
     "tests.", "Task: {task}"],
    ["I want you to act as a Linux terminal.", "I will type commands and you will reply with what the terminal "
     "should show.", "My first command is {tail}"],
    ["Act as an autonomous AI agent.", "Break the goal into steps, execute them one by one, and report your progress "
     "after each step.", "Goal: {agent_goal}"],
    ["Explain the following code line by line as if I were a beginner: {code}"],
    ["Act as a SQL expert.", "Write an efficient query for the following request and explain it: {tail}"],
    ["Summarize the following text in five bullet points: {tail}"],
    ["Act as a senior software engineer.", "Refactor this code for readability and add docstrings and type hints: "
     "{code}"],
    ["Write a professional cover letter for the role below.", "Keep it under 300 words.", "{tail}"],
]

#: slots used only by these texts (the rest are in prompts.SLOTS)
EXTRA_SLOTS: dict[str, np.ndarray] = {
    "model": np.array(["transformer", "ResNet-50", "graph neural network", "diffusion model", "LSTM",
                       "small language model", "vision transformer", "variational autoencoder"], dtype=object),
    "dataset": np.array(["ImageNet", "our sensor logs", "CIFAR-10", "a clinical notes corpus", "satellite images",
                         "a speech corpus", "the lab's survey data", "protein sequences"], dtype=object),
}
