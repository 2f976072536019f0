"""The Build page: design a model from blocks (palette | model list | inspector)."""
from app.pages.build.page import BuildPage

__all__ = ["BuildPage"]
