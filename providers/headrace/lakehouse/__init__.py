"""Lakehouse catalogs (Iceberg, Delta, Hive-style Parquet), table metadata and read-only query."""
