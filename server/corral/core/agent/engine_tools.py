"""The engine tools (docs/contract.md#engine-tools): tools that act on the run rather than on the
workspace's files. AgentSwitch hands the run to another primary agent and SubAgent delegates a task
to a subagent (their tool events say `sourceType: agent`); run_action runs an action (`action`) and
Skill reads a skill (`skill`), of those the workspace exposes to the model. OAH's TaskOutput
(the output of a subagent left running in the background) is not offered: SubAgent waits.

An agent whose front matter lists `tools` is offered the engine tools it lists; one without a
list is offered all of them. Either way a tool with nothing to act on in this run is left out,
so a model never sees a tool it cannot use: AgentSwitch in a subagent's run or without another
primary agent, SubAgent without a subagent or past the nesting bound, run_action without an
exposed action, Skill without an exposed skill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from corral.core.agent import delegation, exposed_tools, switch
from corral.core.agent.seat import AgentSeat
from corral.core.runs.journal import RunJournal
from corral.core.workspace.agent_spec import AgentSpec
from corral.core.workspace.catalog import ENGINE_TOOLS, Catalog
from corral.store import RunRecord, Store
from corral.tools.base import Tool

Offer = Callable[["EngineTools", AgentSpec], Tool | None]
_OFFERS: dict[str, Offer] = {
    "run_action": exposed_tools.offer_run_action,
    "Skill": exposed_tools.offer_skill,
    "AgentSwitch": switch.offer,
    "SubAgent": delegation.offer,
}
OFFERS = [(name, _OFFERS[name]) for name in ENGINE_TOOLS]  # the catalog's order and names


@dataclass
class EngineTools:
    """What the engine tools of one run reach."""

    store: Store
    journal: RunJournal  # the run's: steps and events of switches and delegations
    catalog: Catalog
    children: delegation.ChildRuns  # executes SubAgent's child runs
    seat: AgentSeat | None = None  # set once the run's first agent is prepared

    @property
    def run(self) -> RunRecord:
        return self.journal.run

    def offered(self, agent: AgentSpec) -> list[Tool]:
        wanted = ENGINE_TOOLS if agent.tools is None else agent.tools
        tools = (offer(self, agent) for name, offer in OFFERS if name in wanted)
        return [tool for tool in tools if tool is not None]

    def current_seat(self) -> AgentSeat:
        assert self.seat is not None, "the run's first agent is seated before tools run"
        return self.seat
