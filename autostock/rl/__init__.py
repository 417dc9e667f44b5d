"""Type 2 action models: reinforcement-learning policies over the predictors' forecasts.

* :mod:`autostock.rl.execution`  -- the account, costs and fills (backtrader's rules, no backtrader)
* :mod:`autostock.rl.observation` -- the observation builder shared by the environment and live serving
* :mod:`autostock.rl.rewards`    -- reward plugins (registry ``REWARDS``)
* :mod:`autostock.rl.env`        -- the gymnasium trading environment
* :mod:`autostock.rl.agents`     -- stable-baselines3 agents (extra ``rl``)
* :mod:`autostock.rl.training`   -- walk-forward training, out-of-sample rollouts, the policy directory
* :mod:`autostock.rl.evaluation` -- baselines, metrics across seeds, deflated Sharpe and PBO
* :mod:`autostock.rl.serving`    -- one live decision from a saved policy

Nothing here imports backtrader; gymnasium, stable-baselines3 and torch are imported only by
the modules that need them (``env``, ``agents``, ``training``, ``serving``).
"""
