"""lego-someone's hook implementations: a content operator, a task, a settings table, a command."""

from lego_core.plugin import hookimpl


@hookimpl
def lego_register_content_operators():
    from lego_someone.bigram import BigramOperator

    return [BigramOperator]


@hookimpl
def lego_register_tasks():
    from lego_someone.hinge import HingeTask

    return [HingeTask]


@hookimpl
def lego_register_settings():
    from lego_someone.summary import SomeoneSettings

    return [SomeoneSettings]


@hookimpl
def lego_register_commands():
    from lego_someone.summary import SUMMARY

    return [SUMMARY]


@hookimpl
def lego_experiment_end(results, run_dir, settings):
    from lego_someone.summary import write_summary

    write_summary(results, run_dir, settings["someone"])
