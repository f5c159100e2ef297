"""A model whose training kills the process it runs in: a worker that dies (as one killed
for memory would). Only ever run in a Ray worker."""

from __future__ import annotations

import os

from cryobench.api import SELF_FITTED, Model, hookimpl


class Crash(Model):
    name = "crash"
    summary = "test-only model whose fit kills its process"
    capabilities = SELF_FITTED

    def fit(self, train, val, context):
        os._exit(3)


@hookimpl
def cryobench_register_models():
    return [Crash]
