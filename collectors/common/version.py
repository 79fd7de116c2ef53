"""pantau's version and the User-Agent every HTTP request pantau makes carries.

Here rather than in agent/ because the probes (collectors/) send it too and collectors never
import agent; pyproject reads the version from this module. A receiver's or a web server's
log then says "pantau/0.1.0" instead of "python-httpx/0.27", so an admin can tell the
monitoring agent's requests from anything else.
"""

VERSION = "0.1.0"
USER_AGENT = f"pantau/{VERSION}"
