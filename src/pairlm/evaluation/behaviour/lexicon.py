"""The word lists and templates the behavioural suite is generated from. Small on purpose: a
reader can see every word a test may use. None of it comes from QQP.

Independent of the training-pair augmentation's (`pairlm.data.augment_lexicon`): no entry of
a list here is an entry there, no word a test swaps or substitutes (`HINGE_LISTS`) is a word
there, and no augmentation rule rewrites a question made from the templates here
(tests/evaluation/test_behaviour_independent.py). Where a test checks a behaviour the
augmentation also trains (a "seen" family), it does so with other words and other templates.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Arjun",
    "Priya", "Wei", "Mei", "Carlos", "Lucia", "Omar", "Fatima", "Hiroshi", "Yuki", "Ivan",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Garcia", "Patel", "Chen", "Kim", "Müller", "Rossi", "Silva", "Nowak", "Khan",
    "Tanaka", "Okafor", "Johnson", "Brown", "Singh",
)  # fmt: skip
PLACES = (
    "Paris", "London", "Tokyo", "Berlin", "Mumbai", "Delhi", "Sydney", "Toronto", "Dubai",
    "Singapore", "Rome", "Madrid", "Cairo", "Nairobi", "Lima", "Seoul", "Bangkok", "Istanbul",
    "Vienna", "Oslo", "Canada", "Brazil", "Japan", "Germany", "Kenya", "Mexico",
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
YEARS = tuple(range(1960, 2025))
NUMBERS = (2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 50, 100, 200, 500, 1000)

ACTIVITIES = (
    "drink coffee", "eat eggs", "run every morning", "learn Python", "play the guitar",
    "study at night", "work from home", "own a dog", "rent an apartment", "quit my job",
    "wake up early", "meditate", "lift weights", "take vitamins", "use social media",
    "drink green tea", "travel alone", "learn French", "watch the news", "eat rice",
    "open a bakery", "invest in stocks", "nap at noon", "swim in the sea",
)  # fmt: skip
SKILLS = (
    "Python", "Java", "machine learning", "calculus", "photography", "chess", "cooking",
    "public speaking", "French", "Spanish", "drawing", "the piano", "the guitar", "yoga",
    "swimming", "web design", "statistics", "accounting", "data science", "Excel",
)  # fmt: skip
FOODS = ("rice", "bread", "meat", "sugar", "fruit", "coffee", "salt", "chocolate", "cheese", "fish")
ROLES = (
    "doctor", "teacher", "engineer", "lawyer", "programmer", "writer", "manager", "nurse",
    "designer", "scientist", "pilot", "chef",
)  # fmt: skip
TOOLS = ("a laptop", "a tutor", "a degree", "a car", "a credit card", "a smartphone", "a coach")

# Things that can be compared with each other, by group (a pair is drawn from one group).
COMPARABLES = (
    ("Python", "Java", "C++", "JavaScript", "Ruby", "Go", "Rust"),
    ("an iPhone", "a Samsung phone", "a Pixel", "a OnePlus phone"),
    ("Messi", "Ronaldo", "Neymar", "Mbappé"),
    ("Harvard", "Stanford", "MIT", "Oxford", "Cambridge"),
    ("a Mac", "a Windows laptop", "a Chromebook", "a Linux laptop"),
    ("tea", "coffee", "juice", "milk"),
    ("Netflix", "Amazon Prime", "Hulu", "Disney Plus"),
    ("tennis", "football", "cricket", "basketball", "baseball"),
)
FORMATS = ("PDF", "Word", "Excel", "JPG", "PNG", "MP3", "MP4", "HTML")
# (before, after) adjective pairs for "Can a {x} person grow {y}?"
BECOME = (
    ("anxious", "relaxed"), ("clumsy", "graceful"), ("shy", "confident"), ("lazy", "productive"),
    ("sad", "happy"), ("weak", "strong"), ("boring", "interesting"), ("rude", "kind"),
    ("selfish", "generous"), ("introverted", "extroverted"), ("fat", "thin"),
    ("stupid", "smart"),
)  # fmt: skip
PERSON_NOUNS = ("person", "man", "woman", "student", "child", "employee")
COMPANIES = (
    "Google", "Apple", "Microsoft", "Amazon", "Facebook", "Tesla", "IBM", "Intel", "Samsung",
    "Netflix", "Uber", "Oracle",
)  # fmt: skip
TEAMS = (
    "Brazil", "Germany", "Argentina", "France", "Spain", "Italy", "England", "India",
    "Australia", "Pakistan",
)  # fmt: skip
INVENTIONS = (
    ("Edison", "light bulb"), ("Bell", "telephone"), ("Tesla", "induction motor"),
    ("Berners-Lee", "World Wide Web"), ("Gutenberg", "printing press"), ("Nobel", "dynamite"),
    ("Marconi", "radio"), ("Watt", "steam engine"),
)  # fmt: skip
BOOKS = (
    ("Orwell", "Animal Farm"), ("Tolkien", "The Hobbit"), ("Austen", "Emma"),
    ("Tolstoy", "War and Peace"), ("Rowling", "Harry Potter"), ("Dickens", "Oliver Twist"),
    ("Twain", "Tom Sawyer"), ("Hemingway", "A Farewell to Arms"),
)  # fmt: skip

# ---------------------------------------------------------------------- question frames
NAME_FRAMES = (
    "How old is {x}?",
    "Why did {x} leave the company?",
    "What is {x} famous for?",
    "Where does {x} live now?",
    "How did {x} become rich?",
    "Is {x} a good {role}?",
    "What is {x}'s net worth?",
)
NUMBER_FRAMES = (
    "Can I lose {x} kg in a month?",
    "Is {x} hours of sleep enough for an adult?",
    "How can I earn {x} dollars a day online?",
    "Is it possible to learn {skill} in {x} days?",
    "What is the best laptop under {x} dollars?",
    "How many calories do I burn running {x} km?",
    "Is it normal to have {x} cups of coffee a day?",
)
PLACE_FRAMES = (
    "What is the best time to visit {x}?",
    "How expensive is it to live in {x}?",
    "What are the best universities in {x}?",
    "Is it safe to travel to {x}?",
    "What is the best food to eat in {x}?",
    "How do I find a job in {x}?",
    "What is the weather like in {x}?",
)
YEAR_FRAMES = (
    "What were the best movies of {x}?",
    "Who won the World Cup in {x}?",
    "What was the best phone released in {x}?",
    "Why did the stock market crash in {x}?",
    "What songs were popular in {x}?",
)
MONTH_FRAMES = (
    "What is the best place to travel to in {x}?",
    "Is {x} a good month to visit {place}?",
    "What should I plant in my garden in {x}?",
)
# (affirmative, negated) frames over ACTIVITIES
NEGATION_FRAMES = (
    ("Why do people {x}?", "Why don't people {x}?"),
    ("Should I {x}?", "Should I not {x}?"),
    ("What happens if I {x}?", "What happens if I don't {x}?"),
    ("Is it healthy to {x} every day?", "Is it not healthy to {x} every day?"),
    ("Why is it good to {x}?", "Why is it not good to {x}?"),
    ("Can I {x} while pregnant?", "Can I not {x} while pregnant?"),
    ("Do you {x}?", "Do you never {x}?"),
    ("Is it a good idea to {x}?", "Is it never a good idea to {x}?"),
)
# (frame, word, its opposite): {w} takes one or the other
COMPARATIVE_FRAMES = (
    ("Why do people eat {food} {w} in winter?", "earlier", "later"),
    ("How can I make my {food} {w}?", "crispier", "softer"),
    ("Why do I wake up {w} than my friends?", "sooner", "later"),
    ("Is it wise to {act} {w} breakfast?", "during", "instead of"),
    ("What should I eat {w} I {act}?", "while", "once"),
    ("Should I {act} {w} dinner?", "during", "instead of"),
    ("Is {skill} getting {w}?", "trendier", "rarer"),
    ("Why is {food} getting {w} in {place}?", "pricier", "scarcer"),
    ("Is it {w} to {act} in the morning?", "wiser", "sillier"),
)
CONTRAST_FRAMES = (
    ("What is it like {w} a {role}?", "working as", "dating"),
    ("Is {w} a {role} stressful?", "training as", "retiring as"),
    ("How can I learn {skill} if I {w} {tool}?", "own", "lack"),
    ("Can I get a job as a {role} if I {w} {tool}?", "have", "lack"),
    ("How can I become a {w} {role}?", "trusted", "distrusted"),
    ("What makes a {w} {role}?", "great", "terrible"),
    ("Is it {w} to {act}?", "safe", "dangerous"),
)
# (frame with {x} and {y}) where swapping the two changes the meaning
ASYMMETRIC_FRAMES = (
    "Is {x} tougher to master than {y}?",
    "Why is {x} trendier than {y}?",
    "Should I drop {x} for {y}?",
    "Why do fans rate {x} above {y}?",
)
MOVE_FRAMES = (
    "How do I relocate to {y} if I live in {x}?",
    "How long is the flight to {y} for someone living in {x}?",
    "What is the cheapest way for a {x} resident to reach {y}?",
)
CONVERT_FRAMES = (
    "How do I turn {x} into {y}?",
    "What is the best tool to export {x} files as {y}?",
)
BECOME_FRAMES = (
    "Can a {x} {noun} grow {y}?",
    "How can a {x} {noun} end up {y}?",
    "Why do {x} people end up {y}?",
)
# (frame with {x} and {y}) where swapping the two keeps the meaning
SYMMETRIC_FRAMES = (
    "Is {x} the same as {y}?",
    "How do {x} and {y} differ?",
    "Are {x} and {y} related?",
    "Which is better, {x} or {y}?",
    "How are {x} and {y} similar?",
    "What do {x} and {y} have in common?",
)
# (active, passive) with the same roles
ACTIVE_PASSIVE = (
    ("Did {x} invent the {y}?", "Was the {y} invented by {x}?"),
    ("When did {x} write {y}?", "When was {y} written by {x}?"),
    ("Why did {x} buy {y}?", "Why was {y} bought by {x}?"),
    ("How did {x} knock {y} out of the cup?", "How was {y} knocked out of the cup by {x}?"),
    ("Why did {x} sue {y}?", "Why was {y} sued by {x}?"),
)
# (one question, a paraphrase of it): duplicates, the base pairs of the invariance tests
PARAPHRASES = (
    ("How can I learn {skill}?", "What is the best way to learn {skill}?"),
    ("How do I get better at {skill}?", "How can I improve my {skill} skills?"),
    ("What is the best way to {act}?", "How should I {act}?"),
    ("Is it bad to {act}?", "Is it harmful to {act}?"),
    ("What are the benefits of learning {skill}?", "Why should I learn {skill}?"),
    ("How do I become a {role}?", "What do I need to do to become a {role}?"),
    ("What is it like to live in {place}?", "How is life in {place}?"),
    ("What is the best time to visit {place}?", "When should I visit {place}?"),
)
# (detail, contradicting detail) appended to a question
DETAILS = (
    ("as a beginner", "as an expert"),
    ("for free", "for a steep fee"),
    ("at home", "at the office"),
    ("lacking a degree", "holding a PhD"),
    ("in one week", "in ten years"),
    ("as a child", "as a retiree"),
    ("in summer", "in winter"),
    ("on a tight budget", "having unlimited money"),
)
TYPO_NEIGHBOURS = {
    "a": "sq", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}  # fmt: skip
CONTRACTIONS = (
    ("What is", "What's"),
    ("what is", "what's"),
    ("I am", "I'm"),
    ("it is", "it's"),
    ("I have", "I've"),
    ("How is", "How's"),
    ("I would", "I'd"),
    ("you are", "you're"),
)
TRAILING = (
    " Thanks in advance.",
    " Please help.",
    " Any advice is welcome.",
    " (Asking for a friend.)",
    " I have been wondering about this for a while.",
    " Sorry if this is a silly question.",
)

# ---------------------------------------------------------------------- word order, events,
# modifiers (issue 44): templates of their own, none of them an augmentation pattern
# (comparative, its converse) by what they compare
PLACE_COMPARATIVES = (
    ("warmer", "colder"), ("busier", "calmer"), ("wetter", "drier"), ("noisier", "quieter"),
)  # fmt: skip
OBJECT_COMPARATIVES = (
    ("heavier", "lighter"), ("sturdier", "flimsier"), ("brighter", "dimmer"),
    ("thicker", "thinner"),
)  # fmt: skip
CITIES = PLACES[:20]
OBJECTS = COMPARABLES[1] + COMPARABLES[4]
COMPARISON_FRAMES = (
    "Is {x} {c} than {y}?",
    "Why is {x} {c} than {y}?",
    "Is {x} usually {c} than {y}?",
)
# (one direction, the other) of a change
CHANGE_VERBS = (
    ("rise", "fall"), ("climb", "drop"), ("grow", "shrink"), ("go up", "go down"),
    ("widen", "narrow"),
)  # fmt: skip
CHANGE_FRAMES = (
    "Why did the price of {food} {w} last year?",
    "Will house prices in {place} {w} next year?",
    "Why does {company}'s share price {w} in winter?",
    "What makes the population of {place} {w}?",
    "Why did my grades in {skill} {w} this month?",
)
# things done one after the other (first person)
EVENTS = (
    "renew my passport", "sell my car", "pay off my loan", "book the flight", "sign the lease",
    "apply for a visa", "see a dentist", "finish my thesis", "change my name",
    "open a savings account", "cancel my gym membership", "move abroad",
)  # fmt: skip
EVENT_ORDER_FRAMES = (
    "Should I {e1} before I {e2}?",
    "Is it wise to {e1} after I {e2}?",
    "Can I {e1} before I {e2}?",
    "What happens if I {e1} after I {e2}?",
)
# (a question, the same with its time clause fronted): duplicates
EVENT_FRONTING = (
    ("Should I {e1} before I {e2}?", "Before I {e2}, should I {e1}?"),
    ("Can I {e1} after I {e2}?", "After I {e2}, can I {e1}?"),
    ("Is it wise to {e1} before I {e2}?", "Before I {e2}, is it wise to {e1}?"),
    ("What happens if I {e1} after I {e2}?", "After I {e2}, what happens if I {e1}?"),
)
EVENT_SEQUENCE_FRAMES = (
    "Should I {e1} first and then {e2}?",
    "Is it smart to {e1} and only then {e2}?",
    "Does it make sense to {e1} and later {e2}?",
)
# verbs of an asymmetric relation between two people or two firms
ROLE_VERBS = (
    "trust", "envy", "admire", "fear", "respect", "resent", "forgive", "mentor", "outsmart",
    "imitate", "underestimate", "blame",
)  # fmt: skip
FIRM_VERBS = ("acquire", "outsell", "undercut", "outbid")
ROLE_FRAMES = (
    "Does {a} {v} {b}?",
    "Why does {a} {v} {b}?",
    "Did {a} ever {v} {b}?",
    "How can {a} {v} {b}?",
)
FIRM_FRAMES = ("Why did {a} {v} {b}?", "Will {a} {v} {b}?")
# an asymmetric relation between two roles, carried by a preposition
ROLE_PREP_FRAMES = (
    "Can a {x} work for a {y}?",
    "Should a {x} report to a {y}?",
    "Why would a {x} take orders from a {y}?",
    "What can a {x} pick up from a {y}?",
)
GROUPS = (
    "dentists", "architects", "farmers", "librarians", "plumbers", "astronauts",
    "firefighters", "pharmacists", "surgeons", "journalists",
)  # fmt: skip
HOBBIES = (
    "collect stamps", "keep bees", "grow tomatoes", "bake sourdough", "knit scarves",
    "brew kombucha", "write poetry", "paint murals", "sail boats", "fly drones",
)  # fmt: skip
# (a question, the same with a modifier that changes what it asks): not duplicates
MODIFIER_FRAMES = (
    ("Do all {g} {h}?", "Do any {g} {h}?"),
    ("Why do most {g} {h}?", "Why do few {g} {h}?"),
    ("Can {g} {h} at home?", "Can {g} only {h} at home?"),
    ("Do {g} {h} for fun?", "Do {g} {h} for a living?"),
    ("Why do {g} {h}?", "Why do {g} pretend to {h}?"),
)
MODIFIER_WORDS = ("all", "any", "most", "few", "only", "fun", "living", "pretend")
# (a question, its negation by a word other than an auxiliary's "not"): not duplicates
LEXICAL_NEGATION_FRAMES = (
    ("Why do {g} {h}?", "Why do {g} seldom {h}?"),
    ("Do {g} usually {h}?", "Do {g} rarely {h}?"),
    ("Why did {g} agree to {h}?", "Why did {g} refuse to {h}?"),
    ("Is it common for {g} to {h}?", "Is it uncommon for {g} to {h}?"),
    ("Why do many {g} {h}?", "Why do no {g} {h}?"),
)
NEGATION_WORDS = ("seldom", "rarely", "refuse", "uncommon", "no")


def _pairs_of(frames: tuple[tuple[str, str, str], ...]) -> tuple[str, ...]:
    return tuple(w for _, *ws in frames for w in ws)


WORD_LISTS: dict[str, tuple[object, ...]] = {
    "FIRST_NAMES": FIRST_NAMES, "LAST_NAMES": LAST_NAMES, "PLACES": PLACES, "MONTHS": MONTHS,
    "NUMBERS": NUMBERS, "ACTIVITIES": ACTIVITIES, "SKILLS": SKILLS, "FOODS": FOODS,
    "ROLES": ROLES, "TOOLS": TOOLS, "COMPARABLES": COMPARABLES, "FORMATS": FORMATS,
    "BECOME": BECOME, "PERSON_NOUNS": PERSON_NOUNS, "COMPANIES": COMPANIES, "TEAMS": TEAMS,
    "INVENTIONS": INVENTIONS, "BOOKS": BOOKS, "DETAILS": DETAILS, "CONTRACTIONS": CONTRACTIONS,
    "TRAILING": TRAILING, "COMPARATIVE_WORDS": _pairs_of(COMPARATIVE_FRAMES),
    "CONTRAST_WORDS": _pairs_of(CONTRAST_FRAMES), "PLACE_COMPARATIVES": PLACE_COMPARATIVES,
    "OBJECT_COMPARATIVES": OBJECT_COMPARATIVES, "CHANGE_VERBS": CHANGE_VERBS, "EVENTS": EVENTS,
    "ROLE_VERBS": ROLE_VERBS, "FIRM_VERBS": FIRM_VERBS, "GROUPS": GROUPS, "HOBBIES": HOBBIES,
    "MODIFIER_WORDS": MODIFIER_WORDS, "NEGATION_WORDS": NEGATION_WORDS,
}  # fmt: skip
"""Every word list, by name (what the disjointness test reads)."""
HINGE_LISTS = (
    "COMPARATIVE_WORDS", "CONTRAST_WORDS", "BECOME", "PLACE_COMPARATIVES",
    "OBJECT_COMPARATIVES", "CHANGE_VERBS", "ROLE_VERBS", "FIRM_VERBS", "MODIFIER_WORDS",
    "NEGATION_WORDS",
)  # fmt: skip
"""The lists of words a test swaps or substitutes (the word its minimal pair hinges on): no
word of theirs is a word of the augmentation's lists."""
