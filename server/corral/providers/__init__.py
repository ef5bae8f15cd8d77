"""Model providers: one small interface (`base`), one module per provider, built by `factory`.

This package imports no provider SDK itself, so that `corral.providers.base` stays cheap to
import; `factory.build_provider` loads them.
"""
