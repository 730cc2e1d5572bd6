"""The generators of the fine-tuning sets (`datasets`, from `wordlists`) and of the replay prompts (`instructions`)."""

__all__: list[str] = []
