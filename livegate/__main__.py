from livegate.cli import main

main()
