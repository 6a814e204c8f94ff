from saegraph.cli import main

main()
