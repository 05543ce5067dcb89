from stanceterm.cli import main

main()
