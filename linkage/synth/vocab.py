"""Static material for the synthetic world: networks, names, user agents, prompt text.

Kept apart from the generators so a reader can see at a glance what the world
is made of, and so the numbers (ASNs, BINs) live in one place. ASNs are real
operators' numbers so that ASN-aware logic (hosting vs residential vs mobile)
is exercised as it would be on production logs; IP prefixes and BINs are made up.
"""

from __future__ import annotations

import numpy as np

# --- networks --------------------------------------------------------------------------------

#: country -> (weight among benign users, UTC offset in hours during Apr-Jun, residential ASNs)
COUNTRIES: dict[str, tuple[float, float, tuple[int, ...]]] = {
    "US": (0.30, -6, (7922, 701, 7018, 20115, 22773, 209)),
    "IN": (0.09, 5.5, (24560, 9829)),
    "GB": (0.07, 1, (2856, 5089, 13285)),
    "DE": (0.07, 2, (3320, 3209)),
    "FR": (0.05, 2, (3215, 12322, 5410)),
    "BR": (0.06, -3, (28573, 18881)),
    "JP": (0.05, 9, (4713, 17676)),
    "PH": (0.04, 8, (9299,)),
    "CN": (0.03, 8, (4134, 4837)),
    "KR": (0.03, 9, (4766,)),
    "CA": (0.04, -5, (812, 577)),
    "ES": (0.03, 2, (3352,)),
    "IT": (0.03, 2, (3269,)),
    "PL": (0.02, 2, (5617,)),
    "MX": (0.03, -6, (8151,)),
    "ID": (0.03, 7, (7713,)),
    "AU": (0.03, 10, (1221,)),
}
COUNTRY_CODES = np.array(list(COUNTRIES), dtype=object)
COUNTRY_WEIGHTS = np.array([v[0] for v in COUNTRIES.values()]) / sum(v[0] for v in COUNTRIES.values())
COUNTRY_TZ_S = {c: int(v[1] * 3600) for c, v in COUNTRIES.items()}

#: mobile carriers (CGNAT): asn -> country
MOBILE_ASNS = {21928: "US", 22394: "US", 20057: "US", 55836: "IN", 45609: "IN", 12576: "GB",
               6805: "DE", 10139: "PH", 132199: "PH", 26599: "BR"}
#: national research and education networks: asn -> country
EDU_ASNS = {11537: "US", 2152: "US", 786: "GB", 680: "DE", 2200: "FR", 7575: "AU", 1916: "BR"}
#: business / enterprise transit for company offices: asn -> country
OFFICE_ASNS = {3356: "US", 7018: "US", 6461: "US", 3320: "DE", 2856: "GB", 3215: "FR", 1299: "DE"}
#: hosting ASNs (all in linkage.config.HOSTING_ASNS) by who uses them
CLOUD_ASNS_DEV = (16509, 14618, 15169, 396982, 8075, 14061, 16276, 24940, 63949)
CLOUD_WEIGHTS_DEV = (0.25, 0.1, 0.15, 0.05, 0.12, 0.12, 0.08, 0.08, 0.05)
PROXY_ASNS_DC = (9009, 20473, 60068, 212238, 14061)  # CRIMSON-LATHE's datacenter proxies
PROXY_ASNS_DC2 = (51167, 36352, 53667, 62240)  # COPPER-TIDE's
SHARED_HOSTING_ASN = 14061  # DigitalOcean: benign api_devs and CRIMSON-LATHE both use it

# --- payments --------------------------------------------------------------------------------

#: prepaid issuer BINs: operators buy cards from these, and so do ordinary prepaid users
PREPAID_BINS = np.array(["431274", "485340", "511563", "533621", "546604", "404163", "428837", "520309"], dtype=object)
CORPORATE_BINS = np.array(["556150", "471618", "379452", "552433"], dtype=object)
CONSUMER_BINS = np.array([f"{p}{i:03d}" for p in ("414", "426", "455", "476", "491", "517", "524", "539", "542", "601")
                          for i in (17, 120, 233, 348, 461, 577, 689, 702)], dtype=object)

# --- people ----------------------------------------------------------------------------------

FIRST = np.array("""james mary john patricia robert jennifer michael linda david elizabeth william barbara
    richard susan joseph jessica thomas sarah priya arjun ananya rahul wei li jing hao yuki haruto sakura
    minjun seoyeon jose maria ana carlos juan lucas gabriel sofia mateo valentina lukas hannah leon mia
    emma louis chloe hugo lea oliver amelia jack isla noah olivia liam ava ethan zoe maya omar fatima
    ali aisha ivan olga pierre camille marco giulia jakub zofia nguyen linh budi siti rizal ella ryan""".split(),
                 dtype=object)
LAST = np.array("""smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez
    gonzalez wilson anderson thomas taylor moore jackson martin lee thompson white harris clark lewis
    sharma patel singh kumar gupta wang li zhang liu chen yang tanaka suzuki sato kim park choi silva
    santos oliveira souza pereira costa muller schmidt schneider fischer weber meyer dubois martin bernard
    moreau rossi russo ferrari nowak kowalski novak reyes cruz santos bautista nguyen tran pham wijaya
    walker young allen king wright scott hill green adams baker nelson carter""".split(), dtype=object)
WORDS = np.array("""able about account across action actually address after again against agent air all
    almost along already also although always amount analysis another answer any anyone api app apply
    approach area argument around article ask attention audience available average away back bad balance
    base because become before begin behind believe best better between big bill book both box brain
    break bring budget build business buy call camera car care career case cat cause chair change chapter
    cheap check child choose city class clean clear client close code coffee cold color come common
    company compare complete computer condition consider contract cook cost could country couple course
    cover create credit culture current customer cut daily data date daughter deal debate decide deep
    design detail develop diet different dinner doctor dog door draft dream drive early easy eat economy
    edit effect effort email employee end energy engine enough error essay event exam example exercise
    expect experience explain face fact family fast feature feel field file film final find fine fire
    first fix flight focus follow food form format free friend fruit function fund game garden general
    gift goal good grade great group grow guide habit hair half hand happy health help history holiday
    home hope hotel house idea image improve include income issue job join journey key kid kitchen know
    language large late later law learn leave letter level library light list little local long look
    loss love low machine manager market meal meeting memory message method minute model money month
    morning move movie music name need network news night note number offer office old online open
    order outline page paint paper parent party pay people person phone photo piece plan plant play
    point policy poem post power practice present price print problem process product project question
    quick quiz rain read reason recipe record relationship rent report research rest resume review
    river room rule run salary save schedule school science score season second sell send service
    short show simple size skill sleep slide small social song sound speech sport spring start story
    strategy student study style summer summary support table talk task team test text thesis ticket
    time tip title today topic town trade train travel trip update user vacation value video visit
    walk water website week weight winter word work workout world write year young""".split(), dtype=object)

# --- clients ---------------------------------------------------------------------------------

BROWSER_UAS = np.array([
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
], dtype=object)
MOBILE_UAS = np.array([
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Mobile Safari/537.36",
    "AssistantApp/3.12.1 (iPhone; iOS 17.4.1; Scale/3.00)",
    "AssistantApp/3.12.0 (Android 14; SM-A546B)",
], dtype=object)
HARNESS_UAS = np.array(["python-httpx/0.27.0", "python-requests/2.31.0", "aiohttp/3.9.5", "Go-http-client/2.0",
                        "axios/1.6.8", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "okhttp/4.12.0"],
                       dtype=object)
#: official SDK fingerprints: (device_id, user_agent, popularity)
SDKS = [("sdk-python-1.40", "ModelSDK/Python 1.40.0", 0.34), ("sdk-python-1.39", "ModelSDK/Python 1.39.2", 0.16),
        ("sdk-typescript-0.32", "ModelSDK/JS 0.32.1", 0.22), ("sdk-typescript-0.31", "ModelSDK/JS 0.31.0", 0.08),
        ("sdk-go-0.9", "ModelSDK/Go 0.9.3", 0.07), ("sdk-java-2.3", "ModelSDK/Java 2.3.0", 0.06),
        ("sdk-ruby-1.2", "ModelSDK/Ruby 1.2.0", 0.03), ("sdk-csharp-0.5", "ModelSDK/.NET 0.5.1", 0.04)]

# --- organisations ---------------------------------------------------------------------------

ORG_STEMS = np.array("""northwind contoso fabrikam tailspin wingtip adatum litware proseware lucerne margie
    coho alpine blueyonder fourthcoffee woodgrove trey humongous wideworld relecloud vanarsdel
    nodpublishers graphicdesign southridge consolidated lamna liberty tidewater ironbark quillon
    meridian kestrel orchard halcyon brightline copperfield evergreen""".split(), dtype=object)
ORG_SUFFIXES = np.array(["labs", "analytics", "systems", "health", "logistics", "media", "capital", "software",
                         "robotics", "bio", "energy", "retail", "insurance", "legal"], dtype=object)
UNIVERSITIES = [  # (name, email domain, country)
    ("Northfield University", "student.northfield.edu", "US"), ("Bayside State University", "mail.baysidestate.edu", "US"),
    ("Universitat Rheinau", "stud.uni-rheinau.de", "DE"), ("University of Kestrel Bay", "students.kestrelbay.ac.uk", "GB"),
    ("Universite de Lorvanne", "etu.univ-lorvanne.fr", "FR"), ("Pacific Coast Institute of Technology", "pcit.edu", "US"),
    ("Southern Cross University of Technology", "student.scut.edu.au", "AU"), ("Universidade do Vale Azul", "aluno.uva.edu.br", "BR"),
]
COURSES = np.array(["CS 101", "CS 161", "CSE 142", "INFO 201", "DATA 100", "ECON 110", "PSYCH 120", "BIO 150",
                    "MATH 221", "STAT 133", "EE 120", "PHIL 105", "HIST 140", "CHEM 131", "ENG 125", "LING 110"],
                   dtype=object)
ASSIGNMENTS = np.array([
    "Homework {k}: Write a function that returns the k most frequent words in a text and explain its complexity.",
    "Problem set {k}: Prove that the sum of the first n odd numbers is n squared, showing each induction step.",
    "Lab {k}: Clean the provided survey dataset, handle missing values, and plot the distribution of responses.",
    "Essay {k}: Discuss the causes and consequences of the policy described in the reading, citing two sources.",
    "Assignment {k}: Implement breadth-first search on the given graph and report the shortest path lengths.",
    "Quiz prep {k}: Explain the difference between the concepts below with one example each.",
    "Project {k}: Design a small database schema for a library and write the SQL queries listed below.",
    "Worksheet {k}: Balance the following chemical equations and name the type of each reaction.",
], dtype=object)

PUBLIC_TEMPLATE = ("Act as a senior software engineer. Review the following code and suggest improvements "
                   "for readability, performance and security. Explain each change briefly.\n")

# --- adversaries and traps (linkage/synth/adversaries.py, traps.py) ----------------------------

#: virtual-card issuers: card-as-a-service BINs that serve fintech apps, freelancers and
#: ordinary shoppers as well as operators (a BIN shared with thousands of honest customers)
VIRTUAL_BINS = np.array(["537410", "489514", "559666", "428313", "516732", "444796"], dtype=object)
#: hosting ASNs of datacenter proxy resellers; some are outside linkage.config.HOSTING_ASNS,
#: as small hosting providers are on real logs
PROXY_ASNS_RESELLER = (9009, 60068, 62240, 396356, 202425, 47583, 210644)
#: venue and hotel wi-fi (business ISPs): asn -> country
VENUE_ASNS = {6939: "US", 3356: "US", 174: "US", 1299: "DE", 2914: "GB", 3257: "FR"}
EVAL_VENDORS = np.array(["benchwright", "evalforge", "metricstone", "scorecardai", "testbedlabs", "gradeline"],
                        dtype=object)
HACKATHONS = np.array(["BuildNight", "HackTheBay", "Agents Weekend", "ShipIt Sprint", "DevJam", "CodeCamp Live"],
                      dtype=object)
LAB_NAMES = np.array(["NLP", "Vision", "Robotics", "Systems", "Databases", "HCI", "Security", "Theory", "BioML"],
                     dtype=object)
