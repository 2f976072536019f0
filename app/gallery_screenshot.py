"""README pictures of the template gallery and of "Distill from…":
`python -m app.gallery_screenshot DIR` writes DIR/gallery.png and
DIR/distill.png (the screenshots script calls it too).

The distill picture uses a store of its own holding two finished digits runs
and one without a checkpoint, so the dialog shows a choice and a refusal.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

TEMPLATES = Path(__file__).resolve().parents[1] / "resources" / "templates"


def _until(done, timeout_s: float = 120) -> None:
    end = time.monotonic() + timeout_s
    while not done() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.05)
    QApplication.processEvents()


def render_gallery(out_dir: str | Path) -> Path:
    from app.template_gallery import TemplateGallery

    path = Path(out_dir) / "gallery.png"
    gallery = TemplateGallery()
    gallery.show()
    _until(lambda: not gallery.facts_pending())
    gallery.grab().save(str(path))
    gallery.close()
    gallery.deleteLater()
    return path


def render_distill(out_dir: str | Path) -> Path:
    from app.pages.train.distill_picker import DistillDialog
    from engine.spec import parse_spec
    from engine.store import RunStore
    from engine.training.callbacks import MetricPoint

    work = Path(tempfile.mkdtemp(prefix="layerdeck-distill-shot-"))
    url = f"sqlite:///{work / 'runs.db'}"
    with RunStore(url) as store:
        for stem, name, acc, params, checkpoint in (("digits_mlp", "digits-mlp", 0.961, 17_226, False),
                                                    ("digits_cnn", "digits-cnn", 0.978, 9_962, True),
                                                    ("digits_cnn", "digits-cnn", 0.981, 9_962, True)):
            run_id = store.create_run(json.loads((TEMPLATES / f"{stem}.json").read_text()), name=name,
                                      status="running")
            if checkpoint:
                ck = work / f"best-{run_id}.pt"
                ck.write_bytes(b"picture only")
                store.add_checkpoint(run_id, "best", str(ck), 460, 20, 0.07)
            store.add_metrics(run_id, [MetricPoint("val/accuracy", 460, 20, acc, time.time())])
            store.update_summary(run_id, {"params": params})
            store.set_status(run_id, "completed")
    student = parse_spec(json.loads((TEMPLATES / "digits_mlp.json").read_text()))
    dialog = DistillDialog(url, student)
    dialog.show()
    _until(lambda: not dialog.pending())
    dialog.table.selectRow(0)
    QApplication.processEvents()
    path = Path(out_dir) / "distill.png"
    dialog.grab().save(str(path))
    dialog.close()
    dialog.deleteLater()
    return path


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    for path in (render_gallery(out), render_distill(out)):
        print(path)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
