"""Rules: invoice lines to customers, written once.

``rulebook`` holds the cleaning rules and the purchase definition as SQL; ``clean`` applies them to
lines in memory and counts each rule's lines in a ledger; ``features`` makes one row per customer.

May import: foundation, reading.
"""
