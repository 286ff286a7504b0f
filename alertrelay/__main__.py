from alertrelay.cli import main

main()
