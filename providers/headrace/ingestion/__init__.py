"""Ingestion: files in object storage loaded into lakehouse tables, all files in one commit."""
