"""stable-baselines3 agents (PPO, DQN, A2C) with small networks; the ``rl`` extra.

``require_rl()`` turns a missing extra into one line naming it. Hyperparameters are scaled
down for short training runs (``n_steps`` for PPO / A2C, ``learning_starts`` and the buffer for
DQN) so a few thousand timesteps still update the policy many times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autostock.errors import ConfigError, UserError

AGENTS: tuple[str, ...] = ("ppo", "dqn", "a2c")
INSTALL = "pip install 'autostock[rl]'"


def require_rl() -> None:
    """Import the RL stack or raise a one-line :class:`UserError` naming the ``rl`` extra."""
    try:
        import gymnasium  # noqa: F401
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f"RL needs the 'rl' extra (stable-baselines3, gymnasium, torch): {INSTALL} [missing: {exc.name}]"
        ) from None


def _cls(name: str) -> Any:
    require_rl()
    import stable_baselines3 as sb3

    if name not in AGENTS:
        raise ConfigError(f"unknown --agent {name!r}; valid: {', '.join(AGENTS)}")
    return {"ppo": sb3.PPO, "dqn": sb3.DQN, "a2c": sb3.A2C}[name]


def make_agent(
    name: str,
    env: Any,
    seed: int,
    timesteps: int,
    net: tuple[int, ...] = (32, 32),
    device: str = "cpu",
    **overrides: Any,
) -> Any:
    """A fresh agent on ``env`` with ``net`` hidden layers, seeded."""
    import gymnasium as gym
    import torch

    cls = _cls(name)
    if device == "cpu":
        torch.set_num_threads(1)  # a 32x32 network runs faster on one thread than on many
    if name == "dqn" and not isinstance(env.action_space, gym.spaces.Discrete):
        raise ConfigError("--agent dqn needs --actions discrete (DQN cannot output a continuous weight)")
    kwargs: dict[str, Any] = {
        "policy_kwargs": {"net_arch": list(net)},
        "seed": int(seed),
        "device": device,
        "verbose": 0,
    }
    if name == "ppo":
        n_steps = max(64, min(2048, timesteps // 8 // 64 * 64))
        kwargs.update(n_steps=n_steps, batch_size=64, n_epochs=5, learning_rate=3e-4, ent_coef=0.01)
    elif name == "a2c":
        kwargs.update(n_steps=16, learning_rate=7e-4, ent_coef=0.01)
    else:
        kwargs.update(
            learning_starts=max(100, min(1000, timesteps // 10)),
            buffer_size=max(10_000, timesteps),
            exploration_fraction=0.3,
            target_update_interval=max(250, timesteps // 20),
            train_freq=4,
            batch_size=64,
            learning_rate=5e-4,
        )
    kwargs.update(overrides)
    return cls("MlpPolicy", env, **kwargs)


def load_agent(name: str, path: str | Path, device: str = "cpu") -> Any:
    """A saved agent (``agent.save(path)``); the zip suffix may be omitted."""
    return _cls(name).load(str(path), device=device)
