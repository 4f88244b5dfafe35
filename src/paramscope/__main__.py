from paramscope.cli.app import main

main()
