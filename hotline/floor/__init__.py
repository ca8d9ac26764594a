"""On the floor: a supervisor listening, whispering or barging in on a live call, agents'
after-call work (话后整理), and live captions of a call on the agent's desk."""

__all__: list[str] = []
