"""The experiments built from the layers below: ``make demo``'s pipeline (:mod:`.demo`) and
the controlled shortcut (texture) experiment with its cue-conflict metrics
(:mod:`.texture`, :mod:`.cue_conflict`)."""
