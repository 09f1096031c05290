"""Measuring answer quality: grouped k-fold CV on the imported DACON rows (`cv`, `dobae evaluate`),
the data-source ablation (`ablation`, `dobae evaluate --ablation`) and the choice of the best
measured answerer that `dobae submit --answerer auto` uses (`auto`)."""
