"""The Train page: training settings, Launch, the run list,
live plots, the system strip and the worker's log."""
from app.pages.train.page import TrainPage

__all__ = ["TrainPage"]
