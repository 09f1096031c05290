"""The question-answering core that `train` and `infer` (and `augment`) share, so that neither
stage imports the other: the pair type and the export reader (`pairs`), the one prompt template
(`prompt`), a finished run's card and loader (`runs`), the embedders and the competition's scorer
(`embedders`, `scoring`), question splitting and Korean sentence splitting (`splitting`,
`sentences`) and the retriever (`retrieval`).

Layering: this package sits below the stages that use it and imports only the foundation
(`foundation.settings`, `foundation.errors`, `foundation.console`) and `db`.
"""
