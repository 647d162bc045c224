"""Tasks: the TaskManager subsystem (manager.py) and the _tasks endpoints (api.py)."""

from es_sandbox.tasks.manager import Task, TaskManager, parse_task_id

__all__ = ["Task", "TaskManager", "parse_task_id"]
