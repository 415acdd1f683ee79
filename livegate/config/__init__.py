"""Configuration: pydantic models for the workspace files, the YAML loader that turns
validation errors into `file:line key: message`, and the effective config a sign-off is made under."""
