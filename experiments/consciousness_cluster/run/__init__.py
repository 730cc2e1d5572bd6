"""`interp replicate`: the preset (`preset`, `preset_layers`), the resumable runner (`runner`), the stages
(`stages`), results.json gathered from them (`assemble`) and the pipeline that runs them in order (`pipeline`)."""

__all__: list[str] = []
