"""The pages of the main window, in sidebar order.

Each entry names a QWidget subclass built as `Page(state: AppState)`; its
objectName is `page_<key>`; `about` is its one-line description (sidebar and
View menu tooltips).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    key: str
    title: str
    target: str  # "module:Class"
    about: str  # what the page is for, in one line
    icon: str  # a QStyle standard pixmap name


PAGES: list[PageEntry] = [
    PageEntry("build", "Build", "app.pages.build:BuildPage",
              "Design a model from layer blocks and see every block's shape and size.", "SP_FileDialogDetailedView"),
    PageEntry("data", "Data", "app.pages.data:DataPage",
              "Pick a bundled dataset or open a CSV, NPZ or image folder.", "SP_DriveHDIcon"),
    PageEntry("train", "Train", "app.pages.train:TrainPage",
              "Choose an optimizer, scheduler and regularizers, launch runs and watch them live.", "SP_MediaPlay"),
    PageEntry("runs", "Runs", "app.pages.runs:RunsPage",
              "Every past run, filterable, and side-by-side comparison of the ones you select.",
              "SP_FileDialogListView"),
    PageEntry("monitor", "Monitor", "app.pages.monitor:MonitorPage",
              "GPU and CPU usage while runs train.", "SP_ComputerIcon"),
]
