"""Market simulator: a county's workers, employers, jobs and an event log from a behavioural model.

One module per concern, each with a small interface (frozen dataclasses of arrays):

- :mod:`~gigmatch.sim.config`: :class:`SimulationConfig`, what to simulate.
- :mod:`~gigmatch.sim.geography`: the county disc; villages and homes; work sites and job places.
- :mod:`~gigmatch.sim.population`: workers, employers and jobs with their latent traits.
- :mod:`~gigmatch.sim.policy`: the logging policy, who was shown each job.
- :mod:`~gigmatch.sim.behaviour`: the behavioural model (documented in its docstring): per-pair
  probabilities of applying, being hired, completing and a top rating, and the draws.
- :mod:`~gigmatch.sim.events`: the outcomes as a dated event log.
- :mod:`~gigmatch.sim.oracle`: each shown pair's expected graded label and gain (``truth/oracle.csv``).
- :mod:`~gigmatch.sim.simulate`: :func:`simulate_market` and :func:`write_simulation`, which run them
  in order from one seeded generator.
"""

from gigmatch.sim.config import SimulationConfig
from gigmatch.sim.simulate import simulate_market, write_simulation

__all__ = ["SimulationConfig", "simulate_market", "write_simulation"]
