"""(being written)"""

from es_sandbox.http import Router

router = Router()
