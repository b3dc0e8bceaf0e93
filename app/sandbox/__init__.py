"""FaceCheck.ID simulator: an ASGI app faithful to UPSTREAM.md, with fault-injection knobs."""

from app.sandbox.app import create_sandbox_app
from app.sandbox.config import SandboxConfig

__all__ = ["SandboxConfig", "create_sandbox_app"]
