"""c360: a Customer 360 lakehouse — sources to Delta bronze/silver/gold, governed and served."""

__version__ = "0.1.0"
