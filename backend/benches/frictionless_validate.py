"""Frictionless on the benchmark's file, with every error collected (no limit), timed."""
import sys
import time

from frictionless import Resource, Schema

path, schema_path = sys.argv[1], sys.argv[2]
started = time.perf_counter()
resource = Resource(path=path, schema=Schema.from_descriptor(schema_path))
report = resource.validate(limit_errors=10**9)
seconds = time.perf_counter() - started
task = report.tasks[0]
print(f"rows={task.stats.get('rows')}")
print(f"errors={len(task.errors)}")
print(f"seconds={seconds}")
