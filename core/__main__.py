from community365.cli import main

main()
