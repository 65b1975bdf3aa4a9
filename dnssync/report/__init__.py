"""Reporters: turn findings, plans and apply results into text, JSON, Markdown,
JUnit XML or GitHub annotations. No stage prints; the CLI picks a reporter."""
