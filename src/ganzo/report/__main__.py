from ganzo.report import main

main()
