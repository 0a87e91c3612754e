from services.dashboard.main import main

main()
