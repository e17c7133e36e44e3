"""Model loading for the app: missing and broken directories give a note, not a traceback."""

from climviz.ui.sources import load_downscalers, load_generator, model_root, train_members


def test_missing_and_broken_model_dirs(tmp_path, monkeypatch):
    gen, note = load_generator(tmp_path)
    assert gen is None and "not been trained yet" in note and str(tmp_path / "ensemble") in note
    (tmp_path / "ensemble" / "vae").mkdir(parents=True)
    (tmp_path / "ensemble" / "vae" / "config.json").write_text("{not json")
    gen, note = load_generator(tmp_path)
    assert gen is None and "could not be loaded" in note
    td, base, note = load_downscalers(tmp_path)
    assert td is None and base is None and "TAUDiff" in note and "baseline" in note
    monkeypatch.setenv("CLIMVIZ_MODEL_DIR", str(tmp_path))
    assert model_root() == tmp_path


def test_loaded_once_per_process(tiny_model_root, tiny_generator):
    again, note = load_generator(tiny_model_root)
    assert again is tiny_generator and note == ""
    assert train_members(tiny_generator) == [0, 1, 2]
    assert str(tiny_generator.device) in ("cpu", "cuda")
