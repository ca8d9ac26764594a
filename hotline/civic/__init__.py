"""Residents' hearings (听证议事) and public-welfare projects (申领制 proposals, 申报制
applications): turning merged demands into collective action."""

__all__: list[str] = []
