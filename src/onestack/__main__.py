from onestack.server.cli import main

main()
