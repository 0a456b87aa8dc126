"""Tortoise migrations of the s3-renders plugin."""
