"""dobae: build domain question-answering models for 도배 하자 from the web."""

__version__ = "0.1.0"
