"""Pydantic request and response models: defined once, used for validation and the OpenAPI document."""
