"""The word lists and templates the behavioural suite is generated from. Small on purpose: a
reader can see every word a test may use. None of it comes from QQP."""

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
    "study at night", "work from home", "buy a house", "rent an apartment", "quit my job",
    "wake up early", "meditate", "lift weights", "take vitamins", "use social media",
    "drink green tea", "travel alone", "learn French", "watch the news", "eat rice",
    "start a business", "invest in stocks", "sleep after lunch", "swim in the sea",
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
# (before, after) adjective pairs for "Can a {x} person become {y}?"
BECOME = (
    ("bad", "good"), ("poor", "rich"), ("shy", "confident"), ("lazy", "productive"),
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
    ("Twain", "Tom Sawyer"), ("Hemingway", "The Old Man and the Sea"),
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
    ("Why do people eat {w} {food} in winter?", "more", "less"),
    ("How can I eat {w} {food}?", "more", "less"),
    ("Why do I need {w} sleep than my friends?", "more", "less"),
    ("Is it better to {act} {w} breakfast?", "before", "after"),
    ("What should I eat {w} I {act}?", "before", "after"),
    ("Should I {act} {w} dinner?", "before", "after"),
    ("Is {skill} getting {w} popular?", "more", "less"),
    ("Why is {food} {w} expensive in {place}?", "more", "less"),
    ("Is it {w} to {act} in the morning?", "better", "worse"),
)
CONTRAST_FRAMES = (
    ("What is it like {w} a {role}?", "being", "becoming"),
    ("Is {w} a {role} stressful?", "being", "becoming"),
    ("How can I learn {skill} {w} {tool}?", "with", "without"),
    ("Can I get a job as a {role} {w} {tool}?", "with", "without"),
    ("How can I become a {w} {role}?", "good", "bad"),
    ("What makes a {w} {role}?", "good", "bad"),
    ("Is it {w} to {act}?", "safe", "dangerous"),
)
# (frame with {x} and {y}) where swapping the two changes the meaning
ASYMMETRIC_FRAMES = (
    "Is {x} better than {y}?",
    "Why is {x} more popular than {y}?",
    "Should I switch from {x} to {y}?",
    "Is {x} harder to learn than {y}?",
)
MOVE_FRAMES = (
    "How do I move from {x} to {y}?",
    "How long is the flight from {x} to {y}?",
    "What is the cheapest way to travel from {x} to {y}?",
)
CONVERT_FRAMES = (
    "How do I convert {x} to {y}?",
    "What is the best tool to convert {x} files to {y}?",
)
BECOME_FRAMES = (
    "Can a {x} {noun} become {y}?",
    "How can a {x} {noun} become {y}?",
    "Why do {x} people become {y}?",
)
# (frame with {x} and {y}) where swapping the two keeps the meaning
SYMMETRIC_FRAMES = (
    "Is {x} the same as {y}?",
    "What is the difference between {x} and {y}?",
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
    ("How did {x} beat {y} in the final?", "How was {y} beaten by {x} in the final?"),
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
    ("for free", "for a high fee"),
    ("at home", "at the office"),
    ("without a degree", "with a PhD"),
    ("in one week", "in ten years"),
    ("as a child", "as an old person"),
    ("in summer", "in winter"),
    ("on a small budget", "with unlimited money"),
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
    ("do not", "don't"),
    ("does not", "doesn't"),
    ("I am", "I'm"),
    ("it is", "it's"),
    ("Is it not", "Isn't it"),
    ("cannot", "can't"),
    ("I have", "I've"),
    ("How is", "How's"),
)
TRAILING = (
    " Thanks in advance.",
    " Please help.",
    " Any advice is welcome.",
    " (Asking for a friend.)",
    " I have been wondering about this for a while.",
    " Sorry if this is a silly question.",
)
