"""`python -m engine.worker --run-id N --db URL`"""
from engine.worker.main import run_and_exit

if __name__ == "__main__":  # importing the module (the boundary test walks every one) starts nothing
    run_and_exit()
