"""Reading an input batch: the contract, the file scanners and the rules.

``linkage.io`` is the entry point (``read_batch``); these modules are its parts:
``contract`` (tables, columns, limits), ``records`` (CSV and JSON-lines bytes to records),
``sources`` (one file as a relation of contract columns) and ``rules`` (every check as SQL).
"""
