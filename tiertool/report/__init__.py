"""Report: the typed report (model.py) built from an audit (build.py), its CI gates (gates.py), examples and
redaction, and the renderers (render/: term, md, html, json)."""
