from llmwatch.launcher import main

main()
