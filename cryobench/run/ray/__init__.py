"""All of cryobench's Ray code, and the only place that imports ``ray``: the session
(this machine's own Ray, or a cluster's: :mod:`.session`, :mod:`.cluster`), the executor
that runs trials as Tune trials (:mod:`.executor`) and the searches that tune them
(:mod:`.search`). Imported only when Ray is chosen or needed."""
