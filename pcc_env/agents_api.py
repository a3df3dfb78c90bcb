"""The agents calls of the Pipecat Cloud REST API (``/agents``), mixed into ``SecretsClient``.

They send through ``ApiTransport._request`` (in ``pcc_env.client``, the only httpx user), so they
share its retries (409, 429, 5xx, dropped connections; ``Retry-After`` honoured), typed errors
and no-leak rules. A ``forceRedeploy`` retried after a dropped connection may make one more
deployment than asked for: harmless, as every deployment made after a write runs its values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from pcc_env.errors import NotFoundError, UnexpectedResponseError
from pcc_env.rules import agent_name_problems, check_agent_name

if TYPE_CHECKING:
    from pcc_env.models import AgentDetail, AgentSummary

M = TypeVar("M", bound=BaseModel)
A = TypeVar("A", bound="AgentSummary")


def agent_path(name: str) -> str:
    """``/agents/{name}``, only for a valid agent name (``InputError`` otherwise, nothing sent):
    httpx resolves dot segments, so ``.`` and ``..`` would reach ``/agents`` (create) and the
    API root. Quoted all the same."""
    return "/agents/" + quote(check_agent_name(name), safe="")


def checked_names(agents: list[A], method: str, path: str) -> list[A]:
    """``agents``, refused whole (``UnexpectedResponseError``) when one name breaks the naming
    rules: the API never sends such a name, and each one builds a URL."""
    for agent in agents:
        problems = agent_name_problems(agent.name)
        if problems:
            raise UnexpectedResponseError(
                f"the response names an invalid agent: {problems[0]}", method=method, path=path
            )
    return agents


class AgentsApi:
    """``list_agents``, ``get_agent``, ``find_agent`` and ``redeploy_agent``."""

    if TYPE_CHECKING:  # provided by ``ApiTransport``

        def _request(
            self,
            method: str,
            path: str,
            body: dict[str, Any] | None = None,
            *,
            params: Mapping[str, str] | None = None,
        ) -> Any: ...

        @staticmethod
        def _parse(model: type[M], data: Any, method: str, path: str) -> M: ...

    def list_agents(self, region: str | None = None) -> list[AgentSummary]:
        """Every agent (of ``region``, else all), each with its active deployment: the
        manifest names the secret sets it binds."""
        from pcc_env.models import AgentList

        params = {"includeActiveDeployment": "true"}
        if region is not None:
            params["region"] = region
        data = self._request("GET", "/agents", params=params)
        return checked_names(
            self._parse(AgentList, data, "GET", "/agents").services, "GET", "/agents"
        )

    def get_agent(self, name: str) -> AgentDetail:
        """An agent's detail: desired/reconciled deployment, ``ready``, the active deployment
        and its revision. ``NotFoundError`` when there is no such agent."""
        from pcc_env.models import AgentDetail

        path = agent_path(name)
        detail = self._parse(AgentDetail, self._request("GET", path), "GET", path)
        return checked_names([detail], "GET", path)[0]

    def find_agent(self, name: str) -> AgentDetail | None:
        """Like ``get_agent`` but None when the agent does not exist."""
        try:
            return self.get_agent(name)
        except NotFoundError:
            return None

    def create_agent(
        self, name: str, image: str, *, secret_set: str | None = None, region: str | None = None
    ) -> AgentDetail:
        """Deploy a new agent (``POST /agents``), as ``pipecat cloud deploy`` does for a new
        name. The service refuses (409) a secret set that is not ready yet."""
        from pcc_env.models import AgentCreateRequest, AgentDetail

        body = AgentCreateRequest(
            service_name=name, image=image, secret_set=secret_set, region=region
        ).dump()
        body.pop("forceRedeploy", None)
        detail = self._parse(AgentDetail, self._request("POST", "/agents", body), "POST", "/agents")
        return checked_names([detail], "POST", "/agents")[0]

    def redeploy_agent(self, name: str) -> AgentDetail:
        """Make a new deployment of the agent with its current configuration
        (``forceRedeploy``), so it mounts the current values of its secret sets. Returns the
        detail, whose desired deployment is the new one."""
        from pcc_env.models import AgentDetail

        path = agent_path(name)
        data = self._request("POST", path, {"forceRedeploy": True})
        return checked_names([self._parse(AgentDetail, data, "POST", path)], "POST", path)[0]
