from tscrm.cli.main import run

run()
