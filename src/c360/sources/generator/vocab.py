"""Word lists for the synthetic company: names, nicknames, places, products, texts."""

from __future__ import annotations

import numpy as np

FIRST_F = ["Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
           "Karen", "Emma", "Chloe", "Lucia", "Olivia", "Sofia", "Anna", "Camille", "Giulia", "Margaret",
           "Katherine", "Rebecca", "Victoria", "Alexandra", "Isabella", "Charlotte", "Amelia", "Hannah",
           "Lea", "Ines", "Marta"]
FIRST_M = ["James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
           "Charles", "Lukas", "Hugo", "Mateo", "Liam", "Noah", "Jan", "Pierre", "Marco", "Daniel",
           "Matthew", "Anthony", "Christopher", "Andrew", "Joshua", "Benjamin", "Samuel", "Nicholas",
           "Alexander", "Jonathan", "Edward"]
# Nicknames a person may use on another system (identity resolution must see through them).
NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Richard": "Dick", "Michael": "Mike", "James": "Jim",
    "Joseph": "Joe", "Thomas": "Tom", "Charles": "Charlie", "Daniel": "Dan", "Matthew": "Matt",
    "Anthony": "Tony", "Christopher": "Chris", "Andrew": "Andy", "Benjamin": "Ben", "Samuel": "Sam",
    "Nicholas": "Nick", "Alexander": "Alex", "Jonathan": "Jon", "Edward": "Ed", "Joshua": "Josh",
    "Elizabeth": "Liz", "Margaret": "Maggie", "Katherine": "Kate", "Rebecca": "Becky",
    "Victoria": "Vicky", "Alexandra": "Alex", "Patricia": "Pat", "Jennifer": "Jen", "Susan": "Sue",
    "Isabella": "Bella", "Charlotte": "Lottie", "Jessica": "Jess", "Barbara": "Barb",
}
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez",
        "Wilson", "Anderson", "Taylor", "Moore", "Martin", "Lee", "Thompson", "White", "Harris", "Clark",
        "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker",
        "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Dubois", "Laurent", "Bernard", "Moreau",
        "Rossi", "Russo", "Ferrari", "Esposito", "Fernandez", "Gonzalez", "Rodriguez", "Sanchez", "Novak",
        "Jansen", "De Vries", "Bakker", "Visser", "Kowalski", "Nowak", "Nielsen", "Hansen", "Berg",
        "Silva", "Costa", "Santos", "O'Brien", "Murphy", "Kelly", "Walsh", "Byrne", "Ryan"]
COUNTRIES = {  # ISO 3166-1 alpha-2: (cities, calling code, national trunk prefix, postcode digits)
    "US": (["New York", "Chicago", "Austin", "Seattle", "Denver", "Boston"], "1", "1", 5),
    "GB": (["London", "Leeds", "Bristol", "Glasgow", "Manchester", "Cardiff"], "44", "0", 6),
    "DE": (["Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt", "Leipzig"], "49", "0", 5),
    "FR": (["Paris", "Lyon", "Lille", "Nantes", "Marseille", "Toulouse"], "33", "0", 5),
    "ES": (["Madrid", "Seville", "Valencia", "Bilbao", "Barcelona", "Malaga"], "34", "", 5),
    "IT": (["Rome", "Milan", "Turin", "Naples", "Florence", "Bologna"], "39", "", 5),
    "NL": (["Amsterdam", "Utrecht", "Rotterdam", "Eindhoven", "Groningen", "Leiden"], "31", "0", 4),
}
COUNTRY_WEIGHTS = [0.3, 0.2, 0.15, 0.12, 0.08, 0.08, 0.07]
STREETS = ["Market Street", "High Street", "Station Road", "Church Lane", "Park Avenue", "Mill Road",
           "King Street", "Queen Street", "Main Street", "Garden Row", "River Walk", "Oak Drive"]
DOMAINS = ["example.com", "mail.test", "inbox.example", "post.example", "webmail.test"]

CATEGORIES = ["electronics", "home", "fashion", "beauty", "sports", "toys", "books", "grocery"]
CATEGORY_PRICE = {"electronics": 180.0, "home": 60.0, "fashion": 45.0, "beauty": 25.0, "sports": 55.0,
                  "toys": 30.0, "books": 15.0, "grocery": 8.0}
PRODUCT_WORDS = {
    "electronics": ["Headphones", "Speaker", "Tablet", "Camera", "Smartwatch", "Charger", "Monitor"],
    "home": ["Lamp", "Rug", "Kettle", "Vase", "Blanket", "Chair", "Mirror"],
    "fashion": ["Jacket", "Sneakers", "Scarf", "Jeans", "Dress", "Shirt", "Boots"],
    "beauty": ["Serum", "Lipstick", "Shampoo", "Perfume", "Cream", "Mascara", "Soap"],
    "sports": ["Yoga Mat", "Dumbbells", "Tennis Racket", "Bike Helmet", "Running Belt", "Ball", "Gloves"],
    "toys": ["Puzzle", "Robot Kit", "Plush Bear", "Board Game", "Train Set", "Kite", "Blocks"],
    "books": ["Novel", "Cookbook", "Atlas", "Biography", "Comic", "Guide", "Poetry"],
    "grocery": ["Coffee", "Olive Oil", "Tea", "Chocolate", "Pasta", "Honey", "Granola"],
}
ADJECTIVES = ["Classic", "Pro", "Eco", "Deluxe", "Mini", "Smart", "Urban", "Nordic", "Vintage", "Ultra"]
SUPPLIERS = ["Acme Supply", "Northwind", "Globex", "Initech", "Umbrella Goods", "Stark Trading",
             "Wayne Imports", "Hooli Retail", "Vandelay Industries", "Soylent Foods"]

CHANNELS = ["web", "app", "store"]
PAYMENT_METHODS = ["card", "paypal", "bank_transfer", "gift_card", "apple_pay"]
TIERS = ["bronze", "silver", "gold", "platinum"]
RETURN_REASONS = ["damaged", "wrong size", "not as described", "changed mind", "late delivery"]
TICKET_SUBJECTS = ["Where is my order?", "Refund request", "Damaged item", "Change delivery address",
                   "Payment failed", "Account locked", "Product question", "Cancel my order"]
SURVEY_TYPES = ["post_purchase", "support", "relationship"]
SURVEY_CHANNELS = ["email", "web", "app", "sms"]
SOCIAL_NETWORKS = ["instagram", "facebook", "x", "tiktok"]

# Texts with real positive/negative wording, so sentiment analysis has signal.
POSITIVE = ["Great quality, fast delivery. Love it!", "Excellent service, very happy with my purchase.",
            "Amazing product, would definitely buy again.", "Good value and friendly, helpful support.",
            "Fantastic experience, everything arrived perfect.", "Really pleased, the best shop around!"]
NEUTRAL = ["It is okay.", "Arrived on time.", "Average product, nothing special.", "Does the job.",
           "As described."]
NEGATIVE = ["Terrible experience, the item arrived broken.", "Very disappointed, support never answered.",
            "Bad quality, I want a refund.", "Awful: late delivery and rude staff.",
            "Worst purchase ever, completely useless.", "Not happy at all, it stopped working."]


def arr(xs: list[str]) -> np.ndarray:
    """A numpy string array (fixed-width unicode, vectorised np.char operations work on it)."""
    return np.array(xs)
